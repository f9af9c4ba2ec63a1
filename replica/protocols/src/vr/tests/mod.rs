mod harness;
mod messages;
mod scenarios;
