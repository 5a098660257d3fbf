use super::*;

/// Two classes of 16 px colour images: light squares and dark rings, `n` each.
fn two_classes(n: usize) -> Dataset {
    let (side, mut pixels, mut labels) = (16usize, Vec::new(), Vec::new());
    for class in 0..2u32 {
        for i in 0..n {
            for c in 0..3 {
                for p in 0..side * side {
                    let (x, y) = ((p % side) as i32 - 8, (p / side) as i32 - 8);
                    let on = if class == 0 {
                        x.abs() < 4 + (i % 3) as i32 && y.abs() < 4
                    } else {
                        (16..49).contains(&(x * x + y * y))
                    };
                    let level = if on { 200 - 20 * c } else { 30 + 10 * c };
                    pixels.push((level + i % 7) as u8);
                }
            }
            labels.push(class);
        }
    }
    Dataset {
        resolution: side,
        channels: 3,
        pixels,
        labels,
        class_names: vec!["squares".into(), "rings".into()],
        sources: Vec::new(),
        content_hashes: Vec::new(),
    }
}

#[test]
fn a_judge_trained_in_the_background_is_the_one_trained_in_line() {
    let data = Arc::new(two_classes(24));
    let train: Vec<usize> = (0..data.len()).filter(|i| i % 4 != 0).collect();
    let device = Device::flex();
    let in_line = EvalCache::new();
    let expected = in_line.judge(&data, &train, &device).unwrap();

    let background = EvalCache::new();
    background
        .train_judge_in_background(data.clone(), train.clone())
        .unwrap();
    let started = std::time::Instant::now();
    let judge = loop {
        if let Some(judge) = background.judge(&data, &train, &device) {
            break judge;
        }
        assert!(background.judge_pending(), "no judge, yet none pending");
        assert!(started.elapsed().as_secs() < 300, "the judge never came");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(!background.judge_pending());
    assert_eq!(judge.name(), expected.name());
    let images: Vec<&[u8]> = (0..data.len()).step_by(4).map(|i| data.image(i)).collect();
    assert_eq!(
        judge.features_of_images(&images).unwrap(),
        expected.features_of_images(&images).unwrap()
    );

    // Data a shipped network reads, or with one class, starts no thread.
    let one_class = EvalCache::new();
    let mut single = two_classes(4);
    single.class_names.truncate(1);
    single.labels.iter_mut().for_each(|l| *l = 0);
    one_class
        .train_judge_in_background(Arc::new(single), vec![0, 1])
        .unwrap();
    assert!(one_class.background_judge.borrow().is_none());
}
