//! The command line's arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::device::DeviceChoice;

#[derive(Debug, Parser)]
#[command(
    name = "atelier",
    version,
    about = "Atelier: train GANs on product photos and make product shots"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// No progress bars.
    #[arg(long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a GAN on a folder of images (class labels from first-level sub-folders).
    Train(TrainArgs),
    /// Render PNG shots from a run's latest checkpoint.
    Sample(SampleArgs),
    /// Import a folder and print the import report (trains nothing).
    Import(ImportArgs),
    /// Print training and sampling throughput (images/s) for a preset on this machine.
    Bench(BenchArgs),
    /// Measure the studio's frame time and slider latency offscreen (egui's wgpu renderer)
    /// while the worker trains on the same device; prints JSON.
    BenchUi(crate::studio::FrameBenchArgs),
    /// Train on the embedded demo set (procedural T-shirts) and write samples.
    Demo(DemoArgs),
    /// Bring real photos into a run's generator: the latent whose render matches each photo,
    /// written as a shot PNG (its metadata regenerates it), with how close it came.
    Invert(InvertArgs),
    /// Print held-out quality figures (SWD, memorisation) for a run's checkpoints.
    Eval(EvalArgs),
    /// Let an autoregressive run (pixelcnn) complete a photo: keep part of it, draw the rest,
    /// several variations, written as one grid (photo, what was kept, completions).
    Complete(CompleteArgs),
    /// Open the studio (the default when no command is given).
    Studio(crate::studio::StudioArgs),
    /// Write the generator-only part of a checkpoint: a small file that samples and shares
    /// (of an upscaler file: its network without the optimiser).
    Generator(GeneratorArgs),
    /// Train the feature network behind `eval`'s feature distance (28 px grey, ten classes:
    /// Fashion-MNIST's t10k file) and write its weights.
    FeatureNet(FeatureNetArgs),
    /// Teach a learnt upscaler (sharp print-size exports) on a folder of photos.
    TrainUpscaler(TrainUpscalerArgs),
    /// Enlarge an image with a learnt upscaler (or Lanczos with --smooth).
    Upscale(UpscaleArgs),
    /// Shrink held-out photos, enlarge them back, and compare the learnt upscaler with
    /// Lanczos (PSNR, SSIM, time).
    EvalUpscaler(EvalUpscalerArgs),
    /// Serve this machine's device to training clients (`--device remote` elsewhere).
    Serve(ServeArgs),
    /// Connect to a training server and measure the connection: round trip and the server
    /// device's speed (what the studio's Test connection shows).
    CheckServer(CheckServerArgs),
}

#[derive(Debug, Args)]
pub struct TrainUpscalerArgs {
    /// The photos to learn from (every image under it, at its own resolution).
    #[arg(long)]
    pub data: PathBuf,
    /// Write `RUN/upscaler.atl`: the run's exports and `upscale --run` then use it.
    #[arg(long, conflicts_with = "out", required_unless_present = "out")]
    pub run: Option<PathBuf>,
    /// The upscaler file to write.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Enlargement per pass: 2 or 4.
    #[arg(long, default_value_t = 4)]
    pub factor: usize,
    /// Train for this many minutes of wall-clock time (with --resume: this many more).
    #[arg(long, value_parser = parse_minutes)]
    pub minutes: Option<f64>,
    /// Stop at this many steps in total.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Continue the upscaler in the output file.
    #[arg(long)]
    pub resume: bool,
    /// Start from this upscaler's network (a file, or `shipped`) instead of random weights:
    /// fine-tuning, as the studio does for a project's photos.
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<String>,
    /// Adam's learning rate (default 5e-4, and a fifth of the base's when fine-tuning).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Crops per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Feature channels (default 32).
    #[arg(long)]
    pub width: Option<usize>,
    /// Residual blocks (default 4).
    #[arg(long)]
    pub blocks: Option<usize>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args)]
pub struct UpscaleArgs {
    /// Use this run's (or project's) own upscaler.atl, else the shipped one.
    #[arg(long, conflicts_with = "upscaler")]
    pub run: Option<PathBuf>,
    /// Use this upscaler file (default: the shipped one).
    #[arg(long)]
    pub upscaler: Option<PathBuf>,
    #[arg(long)]
    pub image: PathBuf,
    /// How many times larger: 2, 4, 8, 16 … (passes are chained).
    #[arg(long, default_value_t = 4)]
    pub factor: usize,
    #[arg(long)]
    pub out: PathBuf,
    /// Lanczos instead of the learnt upscaler.
    #[arg(long)]
    pub smooth: bool,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args)]
pub struct EvalUpscalerArgs {
    /// Photos no upscaler training saw (e.g. clothing-small/test).
    #[arg(long)]
    pub data: PathBuf,
    /// The upscaler to judge (default: the shipped one).
    #[arg(long)]
    pub upscaler: Option<PathBuf>,
    /// At most this many photos.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// Also time exports of a 64 px shot to this side (0: skip).
    #[arg(long, default_value_t = 1024)]
    pub export_side: usize,
    /// Also write crops (Lanczos, learnt, original) of the first photos as one PNG here.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args)]
pub struct FeatureNetArgs {
    /// Ten classes of images: an IDX file with its labels, or ten class folders.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// A checkpoint file (`checkpoint.atl`, `best.atl`).
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Keep the discriminator too: a base model to fine-tune from (`train --init FILE`).
    #[arg(long)]
    pub base: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub run: PathBuf,
    /// The run's image folder (default: the one recorded in the run's run.json).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Compare against every image of this folder instead of the run's held-out split (a
    /// folder the run never saw: the most honest figure).
    #[arg(long)]
    pub against: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Conditional models: shots per class for the class-fidelity check (a classifier
    /// trained on the run's training images scores held-out images and shots of each class).
    #[arg(long, default_value_t = 500)]
    pub class_shots: usize,
    /// Score the trained generator instead of its moving average (EMA), to see what the
    /// average buys.
    #[arg(long)]
    pub raw: bool,
    /// Score shots drawn at this truncation ψ (the studio's "New-shot truncation"): below 1
    /// trades recall (variety) for precision (cleaner shots); 1 leaves latents alone.
    #[arg(long, default_value_t = 1.0)]
    pub truncation: f32,
}

#[derive(Debug, Args, Default)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: PathBuf,
    /// A shipped preset name (dcgan-28, dcgan-64-rgb, tshirt-mlp-28, ...) or a TOML file.
    #[arg(long)]
    pub preset: String,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, conflicts_with = "steps")]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub steps: Option<u64>,
    /// Train for this many minutes of wall-clock time (from the first step, evaluations and
    /// checkpoints included), then checkpoint and stop. With --resume: this many minutes
    /// more. With --steps or --epochs too, whichever ends first; alone, no step limit.
    #[arg(long, value_parser = parse_minutes)]
    pub minutes: Option<f64>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// For programs that drive a run (the studio's remote training): print each training
    /// event as one JSON line on stdout, and checkpoint and stop when stdin reads `stop` or
    /// closes.
    #[arg(long)]
    pub events_json: bool,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Fine-tune: start from this base model (a checkpoint file, a run folder, or the shipped
    /// `base-28`) instead of random weights. Overrides the preset's `train.init`.
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<String>,
    /// Fine-tuning: freeze the discriminator's first K blocks (`FreezeD`).
    #[arg(long, value_name = "K")]
    pub freeze_d: Option<usize>,
    /// Fine-tuning: freeze the generator's first K stages.
    #[arg(long, value_name = "K")]
    pub freeze_g: Option<usize>,
    /// Optimiser: adam, adamw or sgd (overrides the preset).
    #[arg(long)]
    pub optimizer: Option<crate::preset::OptimizerKind>,
    /// Learning rate of both G and D (overrides the preset's `lr_g` and `lr_d`).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Dropout after each discriminator block.
    #[arg(long)]
    pub d_dropout: Option<f64>,
    /// Evaluations without a better held-out SWD before stopping (0 = never).
    #[arg(long)]
    pub patience: Option<u32>,
    /// Only measure: time a short warm-up of this recipe on these photos (in a throwaway
    /// folder; --out is left alone) and print how long the run would take, then exit.
    #[arg(long, conflicts_with = "resume")]
    pub estimate: bool,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value_t = 64)]
    pub count: usize,
    #[arg(long)]
    pub out: PathBuf,
    /// First seed; shot k uses seed + k, so every file is reproducible from its name.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Scale of the latent vector (1 = none; smaller = more typical shots).
    #[arg(long, default_value_t = 1.0)]
    pub truncation: f32,
    /// Conditional models: the class to draw (a sub-folder name of the training data).
    #[arg(long)]
    pub class: Option<String>,
    /// Sample this checkpoint file instead of the run's latest (e.g. `RUN/best.atl`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Draw with the trained generator instead of its moving average (EMA).
    #[arg(long)]
    pub raw: bool,
    /// Write each shot enlarged to this side in pixels (print size), with the run's own
    /// upscaler.atl or the shipped one.
    #[arg(long)]
    pub size: Option<usize>,
    /// With --size: enlarge with Lanczos instead of the learnt upscaler.
    #[arg(long, requires = "size")]
    pub smooth: bool,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "dcgan-28")]
    pub preset: String,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "dcgan-28")]
    pub preset: String,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Timed training steps (after warm-up); with --quality, the training budget.
    #[arg(long, default_value_t = 30)]
    pub steps: u64,
    /// Untimed training steps first (kernel compilation, autotuning, allocator warm-up).
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Timed sampling batches of 256 shots.
    #[arg(long, default_value_t = 4)]
    pub sample_rounds: usize,
    /// Training batch instead of the preset's (a GPU fills with larger batches than a CPU).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Print the figures as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Quality instead of speed: train the preset on --data for --steps, then print the
    /// held-out figures (`atelier eval`) with the time it took.
    #[arg(long, requires = "data")]
    pub quality: bool,
    /// The image folder to train on (--quality).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A folder the run never sees, to score against (--quality; the most honest figure).
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// Where the run goes (--quality; default `bench-quality-PRESET-STEPS`). An existing run
    /// there is refused, never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo set, the run and the samples go.
    #[arg(long, default_value = "atelier-demo")]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long, default_value_t = 600)]
    pub steps: u64,
}

/// `--minutes`: a positive number of minutes (fractions allowed).
fn parse_minutes(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(m) if m.is_finite() && m > 0.0 && m <= 60.0 * 24.0 * 365.0 => Ok(m),
        Ok(m) => Err(format!("{m} (a number of minutes above 0, at most a year)")),
        Err(_) => Err(format!("'{text}' is not a number of minutes")),
    }
}

/// The part of a photo that `complete` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepRegion {
    /// The upper half of the rows.
    TopHalf,
    /// The upper quarter of the rows.
    TopQuarter,
    /// The upper half of the rows and the left half of the rest (an L shape).
    LShape,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The run (a pixelcnn run) whose latest checkpoint completes the photo.
    #[arg(long)]
    pub run: PathBuf,
    /// The photo (any format the importer reads), brought to the model's size as imports are.
    #[arg(long)]
    pub image: PathBuf,
    #[arg(long, value_enum, default_value = "top-half")]
    pub keep: KeepRegion,
    /// Completions to draw.
    #[arg(long, default_value_t = 8)]
    pub count: usize,
    /// First seed of the completions' draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Conditional models: the class to complete as (default: the first).
    #[arg(long)]
    pub class: Option<String>,
    /// The grid PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

#[derive(Debug, Args)]
pub struct InvertArgs {
    /// The run whose latest checkpoint's generator (and discriminator, for the feature loss)
    /// the photos are brought into.
    #[arg(long)]
    pub run: PathBuf,
    /// One photo.
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    pub image: Option<PathBuf>,
    /// A folder of photos (every image under it, sorted; the first --limit).
    #[arg(long)]
    pub images: Option<PathBuf>,
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Where NAME-photo.png, NAME-projection.png and pairs.png go.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// Random seeds tried as starting points.
    #[arg(long, default_value_t = 512)]
    pub seeds: usize,
    /// Starting points refined side by side (the best wins).
    #[arg(long, default_value_t = 6)]
    pub restarts: usize,
    /// Adam steps on the latent.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Also find each photo's nearest among this many random shots (the baseline to beat).
    #[arg(long, default_value_t = 0)]
    pub baseline_seeds: usize,
    /// Adam's learning rate on the latent.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Weight of the discriminator-feature loss (0: pixels only).
    #[arg(long, default_value_t = 0.5)]
    pub feature_weight: f64,
    /// Steps of the generator's encoder (photo → latent, taught on its own renders), whose
    /// guess joins the starting points; 0: random seeds only. Kept in RUN/encoders/ per
    /// generator, so it is taught once.
    #[arg(long, default_value_t = crate::latent::ENCODER_STEPS)]
    pub encoder_steps: usize,
}

/// Where `--device remote` trains.
#[derive(Debug, Args, Default, Clone)]
pub struct RemoteArgs {
    /// With --device remote: the training server: `ws://HOST:PORT`, or the Iroh id that
    /// `atelier serve` prints (`ID`, or `ID@IP:PORT` to dial it directly without relays).
    #[arg(long, requires = "token_file")]
    pub host: Option<String>,
    /// With --device remote: a file holding the server's token (a copy of its token file).
    #[arg(long, requires = "host")]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The device to serve: wgpu (a GPU), cpu, or auto (a GPU when there is one).
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// iroh (authenticated and encrypted, any network) or websocket (unencrypted, trusted
    /// networks only).
    #[cfg(feature = "remote")]
    #[arg(long, value_enum, default_value = "iroh")]
    pub transport: crate::remote::server::ServeTransport,
    /// Iroh: the UDP port (default: one the system picks). WebSocket: the TCP port (default
    /// 3000; 0 lets the system pick one).
    #[arg(long)]
    pub port: Option<u16>,
    /// WebSocket: the address to listen on (default 127.0.0.1: this machine only).
    #[arg(long)]
    pub listen: Option<std::net::IpAddr>,
    /// Iroh: `public` (n0's relays find the server by its id), `disabled` (direct connections
    /// to --port only) or a private relay's URL.
    #[arg(long, default_value = "public")]
    pub relays: String,
    /// The token clients must present; created (random, owner-only) when missing.
    /// Default: server.token in Atelier's config folder.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Iroh: the server's secret identity, created when missing, so its id survives restarts.
    /// Default: server.key beside the token file.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckServerArgs {
    /// The training server, as for --device remote.
    #[arg(long)]
    pub host: String,
    /// A file holding the server's token.
    #[arg(long)]
    pub token_file: PathBuf,
    /// Print the figures as one JSON line.
    #[arg(long)]
    pub json: bool,
}
