//! Slack app mode as pure functions (comms spec §2): request signatures (`verify`), the
//! form bodies Slack posts (`form`), the `/incident` grammar (`command`), thread replies
//! marked as notes (`events`) and the Block Kit messages we send (`blocks`). The Web API
//! client is `notify::slack_api`, the routes are `http::slack`, and `engine::slack`
//! decides what to post when.

pub mod blocks;
pub mod command;
pub mod events;
pub mod form;
pub mod verify;
