//! The `mailtls` admin command: demo, probe, send, serve, explain.

fn main() {
    eprintln!("mailtls: the command-line interface is not built yet");
    std::process::exit(64);
}
