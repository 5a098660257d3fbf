//! Generated pictures as egui textures.

use eframe::egui;

use crate::export::Picture;

/// Uploads `picture` as a texture named `name` (linear filtering: shots are shown larger than
/// they are rendered).
pub fn texture(ctx: &egui::Context, name: &str, picture: &Picture) -> egui::TextureHandle {
    let size = [picture.width, picture.height];
    let image = if picture.channels == 1 {
        egui::ColorImage::from_gray(size, &picture.pixels)
    } else {
        egui::ColorImage::from_rgb(size, &picture.pixels)
    };
    ctx.load_texture(name, image, egui::TextureOptions::LINEAR)
}
