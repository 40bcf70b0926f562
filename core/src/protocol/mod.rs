//! Wire codecs. `native` is Herald's own JSON protocol; Engine.IO / Socket.IO and the seed
//! dialects join it here.

pub mod native;
