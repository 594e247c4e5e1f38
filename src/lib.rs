//! hemoscale: scenarios, DSL and command line on top of the kernels.
pub use hemoscale_kernels as kernels;
