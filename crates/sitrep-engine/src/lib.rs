pub mod settings;
mod duration_text;
pub mod investigate;
