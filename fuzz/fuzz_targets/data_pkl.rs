//! Just the pickle: the input becomes `data.pkl` inside the otherwise valid fixture archive,
//! so the fuzzer spends its time in the opcode machine rather than in zip CRC checks.
#![no_main]

use std::io::{Cursor, Read, Write};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

const FIXTURE: &[u8] = include_bytes!("../../crates/ecapa2-archive/tests/data/tiny.pt");

/// The fixture's entries other than data.pkl.
fn other_entries() -> &'static [(String, Vec<u8>)] {
    static E: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    E.get_or_init(|| {
        let mut zip = ZipArchive::new(Cursor::new(FIXTURE)).expect("fixture is a zip");
        let mut out = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).expect("entry");
            let name = f.name().to_owned();
            if name.ends_with("/data.pkl") {
                continue;
            }
            let mut b = Vec::new();
            f.read_to_end(&mut b).expect("readable");
            out.push((name, b));
        }
        out
    })
}

fuzz_target!(|pkl: &[u8]| {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    w.start_file("tiny/data.pkl", opts).expect("start");
    w.write_all(pkl).expect("write");
    for (name, b) in other_entries() {
        w.start_file(name.as_str(), opts).expect("start");
        w.write_all(b).expect("write");
    }
    let bytes = w.finish().expect("finish").into_inner();
    let _ = ecapa2_archive::TorchScript::from_bytes(&bytes);
});
