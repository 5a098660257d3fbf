//! Importing a dropped folder on its own thread: CPU and disk only, so it never competes with
//! the worker for the device, and a 50,000-image folder does not pause training.

use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError};

use super::Wake;
use crate::data::{ImportOptions, import_folder};
use crate::export::Picture;
use crate::protocol::{Event, WorkerError};

/// Images shown in the import report's thumbnail strip.
const THUMBNAILS: usize = 16;

/// Imports `folder` with `options`, reporting progress and then the report (or the error) as
/// events. The result is also written to `report_path` (atomically) when given.
pub fn spawn_import(
    folder: PathBuf,
    options: ImportOptions,
    report_path: Option<PathBuf>,
    events: Sender<Event>,
    wake: Wake,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("atelier-import".into())
        .spawn(move || {
            let progress_events = events.clone();
            let progress_wake = wake.clone();
            let progress = move |p| {
                if let Err(TrySendError::Disconnected(_)) =
                    progress_events.try_send(Event::ImportProgress(p))
                {
                    return;
                }
                progress_wake();
            };
            let event = match import_folder(&folder, options, &progress) {
                Ok((dataset, report)) => {
                    if let Some(path) = &report_path {
                        let _ = crate::fsutil::write_atomic(path, report.to_string().as_bytes());
                    }
                    let step = (dataset.len() / THUMBNAILS).max(1);
                    let thumbnails = (0..dataset.len())
                        .step_by(step)
                        .take(THUMBNAILS)
                        .map(|i| {
                            Picture::from_chw_u8(
                                dataset.image(i),
                                dataset.channels,
                                dataset.resolution,
                            )
                        })
                        .collect();
                    Event::Imported { report, thumbnails }
                }
                Err(error) => Event::Failed(WorkerError::Import(error)),
            };
            let _ = events.send(event);
            wake();
        })
}
