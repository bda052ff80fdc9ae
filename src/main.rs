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
    let json = opt.global.json;
    runtime.spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            let reaction = on_signal.interrupt();
            eprintln!("\n{}", reaction.message());
            if let Some(fault) = reaction.exit_fault() {
                // Exiting without unwinding: put back what the run changed.
                ign_setup::interrupt::restore_terminal();
                ign_setup::fsutil::remove_own_temp_files();
                if json {
                    ign_setup::cli::json::print_interrupted(fault, reaction.message());
                }
                std::process::exit(fault.code());
            }
        }
    });
    let code = runtime.block_on(ign_setup::cli::run(opt, cancel));
    // Leave without waiting for pooled connections to close politely.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
