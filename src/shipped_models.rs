//! Reduced platelet models fitted offline from the harvests of several fine runs, and the ones
//! shipped inside the binary.
//!
//! `hemoscale coupling fit HARVEST... --out FILE` merges harvests (`coupling_harvest.hsd`, written
//! by every coupled run) of one platelet and fits the orientation and stress ensembles to all of
//! them, with the fit settings of the `coupling_*` keys. Harvests at several shear rates give a
//! model whose trained range spans them, which a single online run cannot.
//!
//! `models/shear-flip.hsr` was made that way by `scripts/train-default-surrogates.sh` from fine
//! `shear-flip` runs of the default platelet. It is compiled into the binary, so that
//! `hemoscale run shear-flip --set coupling=surrogate` starts from it out of the box (after its
//! first fine segment) instead of harvesting first. It is used only for the platelet it was made
//! for (its [`ModelKey`]); any other platelet learns online, as does `coupling_source=online`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use hemoscale_coupling::{Harvest, ModelKey, ReducedModel};
use hemoscale_surrogates::dataset::Dataset;

use crate::params::ParamValues;
use crate::scenarios::platelet_plasma::{coupling, coupling_params};
use crate::training::CommandError;

/// The shipped model of `shear-flip` (see the module documentation).
const SHEAR_FLIP: &[u8] = include_bytes!("../models/shear-flip.hsr");

/// The shipped reduced model of scenario `name`, with its file name in the source tree, when
/// there is one for the platelet `key` describes. A shipped file that fails its checks is an
/// error (a damaged build), not a silent fall-back to online learning.
pub fn shipped(name: &str, key: &ModelKey) -> Result<Option<(ReducedModel, &'static str)>, String> {
    let (bytes, file) = match name {
        "shear-flip" => (SHEAR_FLIP, "models/shear-flip.hsr"),
        _ => return Ok(None),
    };
    let m =
        ReducedModel::from_bytes(bytes, Path::new(file)).map_err(|e| format!("the shipped model is damaged: {e}"))?;
    Ok(m.check_key(key).is_ok().then_some((m, file)))
}

/// `hemoscale coupling fit`: one reduced model from the harvests in `files`, fitted with the
/// `coupling_*` keys in `set` (the `shear-flip` defaults otherwise), written to `out`.
pub fn fit_command(files: &[PathBuf], set: &[String], out: &Path) -> Result<Value, CommandError> {
    let invalid = |what: &Path, e: &dyn std::fmt::Display| CommandError::Invalid(format!("{}: {e}", what.display()));
    if files.is_empty() {
        return Err(CommandError::Invalid("no harvest files given".into()));
    }
    let mut assignments = vec!["coupling=surrogate".to_string()];
    assignments.extend(set.iter().cloned());
    let values =
        ParamValues::parse(&coupling_params(), &assignments).map_err(|e| CommandError::Invalid(e.to_string()))?;
    let cfg = coupling(&values).expect("coupling=surrogate gives a coupling").controller;
    let mut merged = Harvest::default();
    let mut key: Option<ModelKey> = None;
    let mut runs: Vec<String> = Vec::new();
    for f in files {
        let d = Dataset::load(f).map_err(|e| invalid(f, &e))?;
        let (h, k, r) = Harvest::from_dataset(&d).map_err(|e| invalid(f, &e))?;
        match &key {
            None => key = Some(k),
            Some(first) if *first != k => {
                return Err(invalid(
                    f,
                    &format!("harvested from another platelet ({k:?}) than the first file ({first:?})"),
                ));
            }
            Some(_) => {}
        }
        merged.merge(&h);
        runs.extend(r);
    }
    let key = key.expect("at least one file");
    let (Some((jeffery, stress_map)), Some(range)) = (merged.fit(&cfg), merged.range) else {
        return Err(CommandError::Failed(format!("{} samples are too few to fit", merged.len())));
    };
    let best = jeffery.best();
    let summary = json!({
        "file": out.display().to_string(),
        "samples": merged.len(),
        "segments": merged.segment_count(),
        "runs": runs,
        "shear_rate_range_dpd": [range.0, range.1],
        "jeffery": {"a": best.a, "b": best.b, "period_spread": jeffery.period_spread(), "rows": jeffery.rows},
        "stress_members": stress_map.members.len(),
    });
    let model = ReducedModel {
        key,
        jeffery,
        stress_map,
        shear_rate_range: range,
        description: format!("fitted by hemoscale coupling fit from {} samples of: {}", merged.len(), runs.join("; ")),
    };
    model.save(out).map_err(|e| CommandError::Failed(e.to_string()))?;
    Ok(summary)
}
