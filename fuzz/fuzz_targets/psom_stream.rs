#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ocs_psom::fuzzing::psom_stream(data));
