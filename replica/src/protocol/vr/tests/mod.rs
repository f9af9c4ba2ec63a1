mod harness;
mod messages;
mod scenarios;
pub(crate) mod sweep;
