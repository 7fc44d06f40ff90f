//! Tokens and api_tickets: issuing, checking and expiring them.

use super::*;

impl State {
    // ----------------------------------------------------------------------------------------
    // Tokens and tickets
    // ----------------------------------------------------------------------------------------

    fn issue_token(&mut self) -> String {
        let now = self.now();
        // Forget tokens that ended more than a day ago.
        self.tokens.retain(|_, t| {
            t.expires_at.min(t.revoked_at.unwrap_or(i64::MAX)) > now.saturating_sub(DAY)
        });
        let token = loop {
            let candidate = format!("SBX_{}", self.random_text(96));
            if !self.tokens.contains_key(&candidate) {
                break candidate;
            }
        };
        self.tokens.insert(
            token.clone(),
            Token {
                expires_at: now.saturating_add(self.config.token_ttl),
                revoked_at: None,
            },
        );
        token
    }

    /// `cgi-bin/token`: a new token each time; the previous one stays valid for five minutes.
    pub(crate) fn classic_token(&mut self) -> (String, i64) {
        let now = self.now();
        if let Some(previous) = self.classic_current.take() {
            if let Some(t) = self.tokens.get_mut(&previous) {
                let end = now.saturating_add(CLASSIC_OVERLAP);
                t.revoked_at = Some(t.revoked_at.map_or(end, |at| at.min(end)));
            }
        }
        let token = self.issue_token();
        self.classic_current = Some(token.clone());
        (token, self.config.token_ttl)
    }

    /// `cgi-bin/stable_token`: the current token while it is valid, unless `force_refresh`
    /// (which revokes it).
    pub(crate) fn stable_token(&mut self, force_refresh: bool) -> (String, i64) {
        let now = self.now();
        if let Some(current) = self.stable_current.clone() {
            if let Some(t) = self.tokens.get_mut(&current) {
                if !force_refresh && !t.revoked(now) && t.expires_at > now {
                    return (current, t.expires_at.saturating_sub(now));
                }
                if force_refresh {
                    t.revoked_at = Some(now);
                }
            }
        }
        let token = self.issue_token();
        self.stable_current = Some(token.clone());
        (token, self.config.token_ttl)
    }

    /// Checks an `access_token`: 40001 unknown or revoked, 42001 expired.
    pub(crate) fn check_token(&self, token: &str) -> Outcome<()> {
        match self.tokens.get(token) {
            None => Err(Refusal::new(
                INVALID_CREDENTIAL,
                "invalid credential, access_token is invalid or not latest",
            )),
            Some(t) if t.revoked(self.now()) => Err(Refusal::new(
                INVALID_CREDENTIAL,
                "invalid credential, access_token is invalid or not latest",
            )),
            Some(t) if t.expires_at <= self.now() => Err(Refusal::of(TOKEN_EXPIRED)),
            Some(_) => Ok(()),
        }
    }

    /// Ends every token now: the next call with any of them gets 42001.
    pub(crate) fn expire_tokens(&mut self) {
        let now = self.now();
        for token in self.tokens.values_mut() {
            token.expires_at = token.expires_at.min(now);
        }
        for (_, (_, expires_at)) in self.tickets.iter_mut() {
            *expires_at = (*expires_at).min(now);
        }
    }

    /// The current, unexpired ticket of a type (`wx_card`), if one was issued.
    pub(crate) fn current_ticket(&self, kind: &str) -> Option<&str> {
        let now = self.now();
        self.tickets
            .get(kind)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(ticket, _)| ticket.as_str())
    }

    /// `cgi-bin/ticket/getticket`: the current ticket of its type while valid.
    pub(crate) fn ticket(&mut self, kind: &str) -> (String, i64) {
        let now = self.now();
        if let Some((ticket, expires_at)) = self.tickets.get(kind) {
            if *expires_at > now {
                return (ticket.clone(), expires_at.saturating_sub(now));
            }
        }
        let ticket = self.random_text(86);
        let ttl = self.config.token_ttl;
        self.tickets
            .insert(kind.to_owned(), (ticket.clone(), now.saturating_add(ttl)));
        (ticket, ttl)
    }
}
