//! What `--resume` with a recipe means for a run that has its own: schedule fields are obeyed
//! (with a notice), anything that would change what is being trained is refused by name.

use std::collections::BTreeMap;

use crate::preset::Preset;

/// Fields a resumed run takes from the asked recipe: how long and how fast it trains, and how
/// often it reports. Changing them mid-run is what `--resume` is for.
const SCHEDULE: &[&str] = &[
    "train.steps",
    "train.epochs",
    "train.lr_g",
    "train.lr_d",
    "train.checkpoint_every",
    "train.preview_every",
    "train.metrics_every",
    "train.eval_every",
    "train.patience",
];

/// Fields that never conflict: labels, the base model a run started from (its weights now
/// come from the checkpoint), and the classes a conditional run learnt from its data.
const IGNORED: &[&str] = &["name", "description", "train.init", "model.classes"];

/// A fine-tuned run's networks are the base model's: of the `[model]` table only these came
/// from the recipe (see `adopt_base_model`).
const FINE_TUNED_MODEL: &[&str] = &[
    "model.resolution",
    "model.channels",
    "model.conditional",
    "model.d_dropout",
];

/// How an asked recipe differs from a run's own.
#[derive(Debug, Default, PartialEq)]
pub struct ResumeChanges {
    /// `field: the run has X, the recipe asks for Y`, for fields that cannot change mid-run.
    pub conflicts: Vec<String>,
    /// The schedule fields that differ, as `field X → Y`; the resumed run follows the recipe.
    pub obeyed: Vec<String>,
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn fields(preset: &Preset) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // A document parses as a table (`toml::Value` parses one value).
    if let Ok(table) = preset.to_toml().parse::<toml::Table>() {
        flatten("", &toml::Value::Table(table), &mut out);
    }
    out
}

/// Compares the recipe a run was trained with (`run`) with the one asked for (`asked`).
#[must_use]
pub fn resume_changes(run: &Preset, asked: &Preset) -> ResumeChanges {
    let (have, want) = (fields(run), fields(asked));
    let fine_tuned = run.train.init.is_some();
    let mut keys: Vec<&String> = have.keys().chain(want.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut changes = ResumeChanges::default();
    let unset = "(unset)".to_string();
    for key in keys {
        let (a, b) = (
            have.get(key).unwrap_or(&unset),
            want.get(key).unwrap_or(&unset),
        );
        if a == b || IGNORED.contains(&key.as_str()) {
            continue;
        }
        if fine_tuned && key.starts_with("model.") && !FINE_TUNED_MODEL.contains(&key.as_str()) {
            continue;
        }
        if SCHEDULE.contains(&key.as_str()) {
            changes.obeyed.push(format!("{key} {a} → {b}"));
        } else {
            changes
                .conflicts
                .push(format!("{key}: the run has {a}, the recipe asks for {b}"));
        }
    }
    changes
}

/// The run's recipe with the asked recipe's schedule fields.
#[must_use]
pub fn with_schedule(run: &Preset, asked: &Preset) -> Preset {
    let mut preset = run.clone();
    let (t, a) = (&mut preset.train, &asked.train);
    t.steps = a.steps;
    t.epochs = a.epochs;
    t.lr_g = a.lr_g;
    t.lr_d = a.lr_d;
    t.checkpoint_every = a.checkpoint_every;
    t.preview_every = a.preview_every;
    t.metrics_every = a.metrics_every;
    t.eval_every = a.eval_every;
    t.patience = a.patience;
    preset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_fields_are_obeyed_and_the_rest_refused_by_name() {
        let run = Preset::load("dcgan-64-rgb-sn").unwrap();
        assert_eq!(resume_changes(&run, &run), ResumeChanges::default());
        let mut asked = run.clone();
        asked.name = "renamed".into();
        asked.train.steps = Some(123);
        asked.train.lr_g = 1e-4;
        let changes = resume_changes(&run, &asked);
        assert!(changes.conflicts.is_empty(), "{changes:?}");
        assert_eq!(changes.obeyed.len(), 2, "{changes:?}");
        let resumed = with_schedule(&run, &asked);
        assert_eq!(resumed.train.steps, Some(123));
        assert!((resumed.train.lr_g - 1e-4).abs() < 1e-12);

        let other = Preset::load("fastgan-64-rgb").unwrap();
        let changes = resume_changes(&run, &other);
        assert!(
            changes
                .conflicts
                .iter()
                .any(|c| c.starts_with("model.kind:")),
            "{changes:?}"
        );
        assert!(
            changes
                .conflicts
                .iter()
                .any(|c| c.starts_with("train.batch:")),
            "{changes:?}"
        );
        // The lines name every field that is set after ":"; schedule fields are not among them.
        assert!(
            changes
                .conflicts
                .iter()
                .all(|c| !c.starts_with("train.steps"))
        );
    }

    #[test]
    fn a_fine_tuned_run_compares_only_what_its_recipe_chose_of_the_model() {
        let mut run = Preset::load("finetune-28").unwrap();
        let asked = run.clone();
        run.train.init = Some("base-28".into());
        run.model = Preset::load("base-28").unwrap().model;
        let mut asked = asked;
        asked.train.init = Some("base-28".into());
        let changes = resume_changes(&run, &asked);
        assert!(
            changes
                .conflicts
                .iter()
                .all(|c| !c.starts_with("model.g_width")),
            "{changes:?}"
        );
    }
}
