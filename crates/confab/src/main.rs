//! `confab`: see `confab --help`.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    confab::run()
}
