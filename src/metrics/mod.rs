//! Metrics of IQA evaluation and labelling, on the CPU in f64.
//!
//! - [`correlation`]: how well predicted scores follow subjective ones (SROCC, KROCC,
//!   PLCC, RMSE, the VQEG logistic fit, a bootstrap interval for SROCC).
pub mod correlation;
