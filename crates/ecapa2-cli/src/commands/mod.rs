//! One module per subcommand.

pub mod der;
pub mod diarize;
pub mod download;
pub mod embed;
pub mod eval;
pub mod inspect;
pub mod plot_det;
pub mod registry;
pub mod score;
pub mod serve;
