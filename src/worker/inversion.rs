//! Photo inversion on the worker, a few steps at a time between renders, so a slider or a
//! click never waits for a whole inversion.

use std::sync::atomic::Ordering;

use burn::tensor::Device;

use crate::checkpoint::Checkpoint;
use crate::data::ImportOptions;
use crate::invert::{InversionRun, InvertOptions, Inverter};
use crate::preset::Preset;
use crate::protocol::{Event, InvertRequest, InvertedPhoto};

/// Adam steps between two looks at the command queue.
const STEPS_PER_TURN: usize = 4;

/// An inversion under way.
pub struct Active {
    request: InvertRequest,
    inverter: Inverter,
    run: InversionRun,
}

/// Loads the generator (and critic), reads the photo at its size, and finds the starting
/// latents; a failure comes back as the answer to send.
pub fn start(request: InvertRequest, device: &Device) -> Result<Active, Box<Event>> {
    let key = request.key;
    try_start(request, device).map_err(|why| {
        Box::new(Event::Inverted {
            key,
            result: Err(why),
        })
    })
}

fn try_start(request: InvertRequest, device: &Device) -> Result<Active, String> {
    let generator = Checkpoint::load(&request.generator).map_err(|e| e.to_string())?;
    // The run's checkpoint may be mid-write or gone; then the loss is on pixels only.
    let critic = request
        .critic
        .as_ref()
        .and_then(|p| Checkpoint::load(p).ok());
    let mut inverter = Inverter::with_critic_from(&generator, critic.as_ref(), device)
        .map_err(|e| e.to_string())?;
    // The generator's encoder, once taught in the background, adds a starting point.
    if let Some(encoder) = super::encoder::kept_encoder(&request.generator, inverter.sampler()) {
        inverter.set_encoder(encoder);
    }
    let preset =
        Preset::from_toml("checkpoint", &generator.preset_toml).map_err(|e| e.to_string())?;
    let model = &inverter.sampler().model;
    let options = ImportOptions {
        resolution: model.resolution(),
        channels: model.channels(),
        square: preset.data.square,
    };
    let pixels = crate::data::read_for_model(&request.photo, options)
        .map_err(|e| format!("{}: {e}", request.photo.display()))?;
    let run = inverter
        .begin(&pixels, &InvertOptions::default(), &request.cancel)
        .map_err(|e| e.to_string())?;
    Ok(Active {
        request,
        inverter,
        run,
    })
}

impl Active {
    /// [`Self::turn`], with a panic (a backend bug) answered as a failed inversion.
    pub fn turn_guarded(self) -> (Event, Option<Self>) {
        let key = self.request.key;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.turn())).unwrap_or_else(
            |panic| {
                let result = Err(super::panic_message(&*panic));
                (Event::Inverted { key, result }, None)
            },
        )
    }

    /// A few steps: the event to send, and the inversion when it goes on.
    pub fn turn(mut self) -> (Event, Option<Self>) {
        let key = self.request.key;
        for _ in 0..STEPS_PER_TURN {
            if self.request.cancel.load(Ordering::Relaxed) {
                let result = Err("cancelled".into());
                return (Event::Inverted { key, result }, None);
            }
            if self.run.done() {
                break;
            }
            if let Err(e) = self.inverter.step(&mut self.run) {
                let result = Err(e.to_string());
                return (Event::Inverted { key, result }, None);
            }
        }
        if self.run.done() {
            let result = self.finish();
            return (Event::Inverted { key, result }, None);
        }
        let done = self.run.progress();
        (Event::InvertProgress { key, done }, Some(self))
    }

    fn finish(self) -> Result<InvertedPhoto, String> {
        let photo = self.run.photo().clone();
        let generator_id = self.inverter.sampler().checkpoint_id.clone();
        let result = self.inverter.finish(self.run).map_err(|e| e.to_string())?;
        let class = result.class.and_then(|k| {
            let classes = self.inverter.sampler().model.classes();
            classes.get(k as usize).cloned()
        });
        Ok(InvertedPhoto {
            photo,
            projection: result.picture,
            latent: result.latent,
            pixel_l1: result.pixel_l1,
            start_l1: result.start_l1,
            generator_id,
            class,
        })
    }
}

impl super::Worker {
    /// A few steps of the photo inversion under way.
    pub(super) fn invert_a_little(&mut self) {
        if let Some(active) = self.inversion.take() {
            let (event, next) = active.turn_guarded();
            self.out.send(event);
            self.inversion = next;
        }
    }
}
