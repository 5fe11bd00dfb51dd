#![no_main]

use libfuzzer_sys::fuzz_target;
use wsbeat::ws::proto::frame::Role;

fuzz_target!(|data: &[u8]| wsbeat_fuzz::decode::check(Role::Client, data));
