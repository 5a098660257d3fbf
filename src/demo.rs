//! The embedded demo product set: T-shirt silhouettes drawn procedurally, so a fresh install
//! has something to train on without any download or shipped photos.
//!
//! Each shirt varies in body width and length, sleeve length and angle, neckline, shade,
//! stripes and a chest print; drawn with 4×4 supersampling for smooth edges.

use std::path::Path;

use crate::export::{ExportError, Picture, save_png_atomic};
use crate::rng::Rng;

/// Shirts in the demo set (the studio's demo project and `atelier demo`).
pub const DEMO_SET_SIZE: usize = 2048;

/// Side of the demo images in pixels (Fashion-MNIST-sized).
pub const DEMO_SIDE: usize = 28;

type Point = (f32, f32);

fn inside(poly: &[Point], p: Point) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (xi, yi) = poly[i];
        let (xj, yj) = poly[j];
        if (yi > p.1) != (yj > p.1) && p.0 < (xj - xi) * (p.1 - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// One procedurally drawn T-shirt, grey, light on black like Fashion-MNIST.
#[must_use]
pub fn demo_shirt(seed: u64) -> Picture {
    let mut rng = Rng::derived(seed, "demo-shirt");
    let mut u = |lo: f32, hi: f32| lo + (hi - lo) * rng.next_f64() as f32;
    let cx = 14.0 + u(-0.6, 0.6);
    let half_body = u(4.5, 6.5);
    let top = u(3.5, 5.0);
    let bottom = u(23.5, 26.5);
    let shoulder = half_body + u(1.0, 2.5);
    let sleeve_len = u(3.0, 11.0);
    let sleeve_drop = u(0.4, 1.1);
    let sleeve_w = u(3.0, 4.5);
    let neck_w = u(2.0, 3.5);
    let neck_d = u(1.0, 3.0);
    let shade = u(0.45, 1.0);
    let stripes = u(0.0, 1.0) < 0.3;
    let stripe_period = u(2.5, 4.0);
    let print = u(0.0, 1.0) < 0.35;
    let print_shade = u(0.2, 0.6);

    let body: Vec<Point> = vec![
        (cx - shoulder, top),
        (cx + shoulder, top),
        (cx + half_body, top + sleeve_w + 1.0),
        (cx + half_body + 0.3, bottom),
        (cx - half_body - 0.3, bottom),
        (cx - half_body, top + sleeve_w + 1.0),
    ];
    let sleeve = |side: f32| -> Vec<Point> {
        let sx = cx + side * shoulder;
        let ex = sx + side * sleeve_len * 0.8;
        let ey = top + sleeve_len * sleeve_drop;
        vec![
            (sx, top),
            (ex, ey),
            (ex - side * sleeve_w * 0.5, ey + sleeve_w * 0.8),
            (cx + side * half_body, top + sleeve_w + 1.0),
        ]
    };
    let (left, right) = (sleeve(-1.0), sleeve(1.0));
    let mut pixels = vec![0u8; DEMO_SIDE * DEMO_SIDE];
    for y in 0..DEMO_SIDE {
        for x in 0..DEMO_SIDE {
            let mut acc = 0.0f32;
            for sy in 0..4 {
                for sx in 0..4 {
                    let p = (
                        x as f32 + (sx as f32 + 0.5) / 4.0,
                        y as f32 + (sy as f32 + 0.5) / 4.0,
                    );
                    let neck = ((p.0 - cx) / neck_w).powi(2) + ((p.1 - top) / neck_d).powi(2) < 1.0;
                    if neck || !(inside(&body, p) || inside(&left, p) || inside(&right, p)) {
                        continue;
                    }
                    let mut v = shade * (1.0 - 0.25 * (p.1 - top) / (bottom - top));
                    if stripes && (p.1 / stripe_period).fract() < 0.4 {
                        v *= 0.6;
                    }
                    if print && (p.0 - cx).abs() < 2.5 && (p.1 - (top + 8.0)).abs() < 2.5 {
                        v *= print_shade;
                    }
                    acc += v;
                }
            }
            pixels[y * DEMO_SIDE + x] = (acc / 16.0 * 255.0).round().clamp(0.0, 255.0) as u8;
        }
    }
    Picture {
        width: DEMO_SIDE,
        height: DEMO_SIDE,
        channels: 1,
        pixels,
    }
}

/// Writes `count` demo shirts as PNGs into `dir` (created if needed).
pub fn write_demo_set(dir: &Path, count: usize) -> Result<(), ExportError> {
    for i in 0..count {
        save_png_atomic(
            &demo_shirt(i as u64),
            &dir.join(format!("shirt-{i:05}.png")),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_shirts_vary_and_have_content() {
        let a = demo_shirt(1);
        let b = demo_shirt(2);
        assert_ne!(a, b);
        assert_eq!(a, demo_shirt(1));
        let lit = a.pixels.iter().filter(|&&p| p > 40).count();
        assert!(lit > 100 && lit < 700, "{lit} lit pixels");
    }
}
