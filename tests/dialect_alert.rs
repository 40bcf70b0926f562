//! The `alert` dialect's translation, natively (being written).
