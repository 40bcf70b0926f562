//! The `threedrepo` dialect's translation, natively (being written).
