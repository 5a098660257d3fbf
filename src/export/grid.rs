//! Contact grids: many same-sized pictures tiled with a thin gutter.

use super::Picture;

/// Tiles `pictures` (all the same size and channels) into rows of `columns`, 2 px gutters.
#[must_use]
pub fn grid(pictures: &[Picture], columns: usize) -> Picture {
    const GUTTER: usize = 2;
    let Some(first) = pictures.first() else {
        return Picture {
            width: 1,
            height: 1,
            channels: 1,
            pixels: vec![0],
        };
    };
    let columns = columns.clamp(1, pictures.len());
    let rows = pictures.len().div_ceil(columns);
    let (cw, ch, c) = (first.width, first.height, first.channels);
    let width = columns * cw + (columns + 1) * GUTTER;
    let height = rows * ch + (rows + 1) * GUTTER;
    let mut pixels = vec![40u8; width * height * c];
    for (k, p) in pictures.iter().enumerate() {
        let x0 = GUTTER + (k % columns) * (cw + GUTTER);
        let y0 = GUTTER + (k / columns) * (ch + GUTTER);
        for y in 0..ch.min(p.height) {
            let src = &p.pixels[y * p.width * c..(y * p.width + cw.min(p.width)) * c];
            let dst = ((y0 + y) * width + x0) * c;
            pixels[dst..dst + src.len()].copy_from_slice(src);
        }
    }
    Picture {
        width,
        height,
        channels: c,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_tiles() {
        let white = Picture {
            width: 2,
            height: 2,
            channels: 1,
            pixels: vec![255; 4],
        };
        let g = grid(&[white.clone(), white.clone(), white], 2);
        assert_eq!((g.width, g.height), (2 * 2 + 3 * 2, 2 * 2 + 3 * 2));
        assert_eq!(g.pixels[2 * g.width + 2], 255);
        assert_eq!(g.pixels[0], 40);
    }
}
