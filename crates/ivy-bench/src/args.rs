//! Role arguments: `--key value` pairs after `--role NAME` (the same form for the
//! Rust, C and Python roles).

use std::collections::HashMap;

pub(crate) struct Args {
    map: HashMap<String, String>,
}

impl Args {
    pub(crate) fn parse(list: &[String]) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut it = list.iter();
        while let Some(k) = it.next() {
            let key = k.strip_prefix("--").ok_or_else(|| format!("unexpected argument {k}"))?;
            let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_string(), v.clone());
        }
        Ok(Args { map })
    }

    pub(crate) fn str(&self, key: &str) -> Result<&str, String> {
        self.map.get(key).map(String::as_str).ok_or_else(|| format!("missing --{key}"))
    }

    pub(crate) fn u64(&self, key: &str) -> Result<u64, String> {
        let v = self.str(key)?;
        v.parse().map_err(|_| format!("bad --{key} {v}"))
    }

    pub(crate) fn u64_or(&self, key: &str, default: u64) -> Result<u64, String> {
        if self.map.contains_key(key) { self.u64(key) } else { Ok(default) }
    }

    pub(crate) fn str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.map.get(key).map_or(default, String::as_str)
    }
}
