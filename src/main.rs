use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let invoked = args.next();
    smss::run::main_as(invoked.as_deref(), args.collect())
}
