pub mod oum;
pub mod time;
pub mod wire;

#[doc(hidden)]
pub mod fuzzing;
