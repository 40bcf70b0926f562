//! Wire codecs. `native` is Herald's own JSON protocol; Engine.IO / Socket.IO and the seed
//! dialects join it here.

pub mod native;
pub mod status;

pub use status::{focus_from_field, Status, FOCUS_MAX};
