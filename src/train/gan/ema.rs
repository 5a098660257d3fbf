//! Exponential moving average of the generator's weights (and BatchNorm running statistics).
//!
//! Samples come from the EMA copy: it averages out the step-to-step oscillation of GAN training
//! and gives visibly cleaner, more stable images than the raw generator.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// Effective decay at `step`: warmed up (`(1 + step) / (10 + step)`) so that early, fast-moving
/// weights are not averaged with the random initialisation for thousands of steps.
#[must_use]
pub fn warmed_up_decay(decay: f64, step: u64) -> f64 {
    decay.min((1.0 + step as f64) / (10.0 + step as f64))
}

struct Collect {
    values: HashMap<ParamId, Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().without_autodiff();
        let n = value.shape().num_elements();
        self.values.insert(param.id, value.reshape([n]));
    }
}

struct Blend {
    values: HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(source) = self.values.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|ema| {
            let dims = ema.dims();
            let source: Tensor<D> = source.reshape(dims).to_device(&ema.device());
            ema.mul_scalar(decay).add(source.mul_scalar(1.0 - decay))
        })
    }
}

/// `ema ← decay · ema + (1 − decay) · source`, parameter by parameter (matched by id).
#[must_use]
pub fn ema_update<M: Module>(ema: M, source: &M, decay: f64) -> M {
    let mut collect = Collect {
        values: HashMap::new(),
    };
    source.visit(&mut collect);
    ema.map(&mut Blend {
        values: collect.values,
        decay,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;
    use burn::tensor::Device;

    fn first_weight<M: Module>(g: &M) -> Vec<f32> {
        let mut c = Collect {
            values: HashMap::new(),
        };
        g.visit(&mut c);
        let mut all: Vec<(u64, Vec<f32>)> = c
            .values
            .into_iter()
            .map(|(id, t)| (id.val(), t.into_data().try_to_vec::<f32>().unwrap()))
            .collect();
        all.sort_by_key(|(id, _)| *id);
        all.into_iter().flat_map(|(_, v)| v).collect()
    }

    #[test]
    fn ema_moves_towards_the_source_by_one_minus_decay() {
        let device = Device::flex();
        let crate::model::ModelConfig::Dcgan(p) = Preset::load("tiny-test").unwrap().model else {
            panic!("tiny-test is a DCGAN")
        };
        let g = crate::model::dcgan::DcganGenerator::new(&p, &device);
        let ema = g.valid();
        let ema_zero = ema.map(&mut ZeroOut);
        let before = first_weight(&ema_zero);
        assert!(before.iter().all(|&v| v == 0.0));
        let after = ema_update(ema_zero, &g, 0.75);
        let src = first_weight(&g);
        for (a, s) in first_weight(&after).iter().zip(&src) {
            assert!((a - 0.25 * s).abs() < 1e-6);
        }
        assert!((warmed_up_decay(0.999, 0) - 0.1).abs() < 1e-12);
        assert!((warmed_up_decay(0.999, 1_000_000) - 0.999).abs() < 1e-12);
    }

    struct ZeroOut;
    impl ModuleMapper for ZeroOut {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.zeros_like())
        }
    }
}
