#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ocs_rtcp::fuzzing::rtcp_session(data));
