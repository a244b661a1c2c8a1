//! Reliability and security of hook calls: hostile and broken scripts, strict trust mode, no
//! leak of the stdin document or the environment, and property tests of the wire words, the
//! quoting and the object document parser. The checks that need the whole process to
//! themselves (the soak, fd/process/memory leak counts, concurrency, signal dispositions,
//! tracing capture) are in the `isolated` test binary.

mod document_properties;
mod hostile;
mod properties;
mod secrets;
mod trust;
