#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ocs_http_focus::fuzzing::http_response_stream(data));
