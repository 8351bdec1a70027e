//! Subscription filters (`IvySetFilter`, `IvyAddFilter`, `IvyRemoveFilter`; protocol §5.6).

/// Filter words limiting which peer regexps are accepted.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    words: Vec<Vec<u8>>,
}

impl Filter {
    /// Adds a word (`IvySetFilter`/`IvyAddFilter` add, they never replace).
    pub fn add(&mut self, word: &[u8]) {
        self.words.push(word.to_vec());
    }

    /// Removes every word equal to `word`.
    pub fn remove(&mut self, word: &[u8]) {
        self.words.retain(|w| w != word);
    }

    /// True when no word is set (everything is accepted).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words, in insertion order.
    pub fn words(&self) -> &[Vec<u8>] {
        &self.words
    }

    /// §5.6: true = accepted.
    ///
    /// Only a regexp starting with `^` followed by a token of `[A-Za-z0-9_-]`
    /// is checked; it is accepted when the token is a prefix of some word.
    pub fn accepts(&self, regexp: &[u8]) -> bool {
        let Some(rest) = regexp.strip_prefix(b"^") else {
            return true;
        };
        let len = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-').count();
        let token = rest.get(..len).unwrap_or_default();
        self.words.is_empty() || token.is_empty() || self.words.iter().any(|w| w.starts_with(token))
    }
}
