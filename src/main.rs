//! The `ign-setup` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() {
    let opt = match ign_setup::cli::opt::Opt::try_parse() {
        Ok(opt) => opt,
        Err(err) => std::process::exit(ign_setup::cli::usage_error(err)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    let code = runtime.block_on(ign_setup::cli::run(opt));
    // Leave without waiting for pooled connections to close politely.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
