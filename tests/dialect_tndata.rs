//! The `tndata` dialect's translation, natively (being written).
