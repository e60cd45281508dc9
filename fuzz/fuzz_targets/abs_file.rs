#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ocs_http_focus::fuzzing::abs_file(data));
