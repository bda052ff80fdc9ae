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
    // Ctrl-C: the library says what it means now; the binary acts on it.
    ign_setup::interrupt::save_terminal();
    let cancel = ign_setup::interrupt::Cancel::new();
    let on_signal = cancel.clone();
    runtime.spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            let reaction = on_signal.interrupt();
            if let Some(code) = reaction.exit_code() {
                ign_setup::interrupt::restore_terminal();
                eprintln!("\n{}", reaction.message());
                std::process::exit(code);
            }
            eprintln!("\n{}", reaction.message());
        }
    });
    let code = runtime.block_on(ign_setup::cli::run(opt, cancel));
    // Leave without waiting for pooled connections to close politely.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
