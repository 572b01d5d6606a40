//! What people and feed readers see: `web/` renders HTML pages, JSON bodies and feeds from
//! domain values. Pure functions from data to text; `http` serves what they return.

pub mod statuspage;
pub mod ui;
