//! The optimiser a recipe asks for (one per network).

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};

use crate::preset::{OptimizerKind, TrainPreset};

pub fn optimizer(t: &TrainPreset) -> ModuleOptimizer {
    match t.optimizer {
        OptimizerKind::Adam => {
            let config = AdamConfig::new()
                .with_beta_1(t.beta1 as f32)
                .with_beta_2(t.beta2 as f32)
                .with_epsilon(1e-8);
            let config = if t.weight_decay > 0.0 {
                config.with_weight_decay(Some(WeightDecayConfig::new(t.weight_decay as f32)))
            } else {
                config
            };
            config.init()
        }
        OptimizerKind::Adamw => AdamWConfig::new()
            .with_beta_1(t.beta1 as f32)
            .with_beta_2(t.beta2 as f32)
            .with_epsilon(1e-8)
            .with_weight_decay(t.weight_decay as f32)
            .init(),
        OptimizerKind::Sgd => SgdConfig::new()
            // PyTorch's SGD: no dampening, so `momentum` means what designers read elsewhere.
            .with_momentum((t.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(t.momentum)
                    .with_dampening(0.0)
            }))
            .with_weight_decay(
                (t.weight_decay > 0.0).then(|| WeightDecayConfig::new(t.weight_decay as f32)),
            )
            .init(),
    }
}
