//! Every integration test of the crate in one binary: one link and one monomorphisation of the
//! crate's generics instead of one per file, which more than halved the optimised test build.
//! A new file of `tests/` needs its line here (`autotests = false` in `Cargo.toml`). One file's
//! tests run with its module name as the filter, e.g.
//! `cargo test --test suite sinkhorn_defaults -- --nocapture`.
// Modules several test files share: a file is loaded once per crate, so here.
#[path = "../examples/support/training.rs"]
mod example_training;
#[path = "reference/feature_inputs.rs"]
mod feature_inputs;
#[path = "reference/feature_values.rs"]
mod feature_values;
mod reference;
#[path = "../examples/support/shapes.rs"]
mod shapes;
mod support;

#[path = "adam_reference.rs"]
mod adam_reference;
#[path = "datasets.rs"]
mod datasets;
#[path = "drift_accuracy.rs"]
mod drift_accuracy;
#[path = "drift_flows.rs"]
mod drift_flows;
#[path = "drift_laws.rs"]
mod drift_laws;
#[path = "drift_vjp.rs"]
mod drift_vjp;
#[path = "errors_and_buffers.rs"]
mod errors_and_buffers;
#[path = "feature_reference.rs"]
mod feature_reference;
#[path = "feature_reference_inputs.rs"]
mod feature_reference_inputs;
#[path = "fuzz_regressions.rs"]
mod fuzz_regressions;
#[path = "grouped_drift.rs"]
mod grouped_drift;
#[path = "hostile_inputs.rs"]
mod hostile_inputs;
#[path = "metrics.rs"]
mod metrics;
#[path = "mlp_bytes.rs"]
mod mlp_bytes;
#[path = "mlp_gradients.rs"]
mod mlp_gradients;
#[path = "multiscale_sinkhorn.rs"]
mod multiscale_sinkhorn;
#[path = "operator_template.rs"]
mod operator_template;
#[path = "owned.rs"]
mod owned;
#[path = "paper_alignment.rs"]
mod paper_alignment;
#[path = "paper_flows.rs"]
mod paper_flows;
#[path = "paper_spectral.rs"]
mod paper_spectral;
#[path = "paper_training.rs"]
mod paper_training;
#[path = "parallel_determinism.rs"]
mod parallel_determinism;
#[path = "pruned.rs"]
mod pruned;
#[path = "pruned_mmd_flow.rs"]
mod pruned_mmd_flow;
#[path = "pruned_sinkhorn.rs"]
mod pruned_sinkhorn;
#[path = "pruned_two_axis.rs"]
mod pruned_two_axis;
#[path = "score_diagnostics.rs"]
mod score_diagnostics;
#[path = "score_difference.rs"]
mod score_difference;
#[path = "sinkhorn_contracts.rs"]
mod sinkhorn_contracts;
#[path = "sinkhorn_defaults.rs"]
mod sinkhorn_defaults;
#[path = "sinkhorn_properties.rs"]
mod sinkhorn_properties;
#[path = "sinkhorn_reference.rs"]
mod sinkhorn_reference;
#[path = "spatial.rs"]
mod spatial;
#[path = "spectral.rs"]
mod spectral;
#[path = "training.rs"]
mod training;
