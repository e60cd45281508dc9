#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ocs_sip_codec::fuzzing::presence(data));
