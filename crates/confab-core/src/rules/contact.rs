//! Contact identity: phones are E.164, emails lower-cased; both unique per tenant.

/// Normalises a phone number to E.164: `+`, then 8 to 15 digits, the first not 0. Spaces, dashes,
/// dots and parentheses are removed; anything else is invalid (`None`).
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let rest = trimmed.strip_prefix('+')?;
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return None;
    }
    Some(format!("+{digits}"))
}

/// Lower-cases and checks an email address: one `@`, a non-empty local part, a domain with a dot,
/// no spaces, at most 254 characters.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || domain.contains('@') || !domain.contains('.') {
        return None;
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return None;
    }
    Some(email)
}

/// The name to show for a contact with no explicit name: first and last name, else the display name,
/// else the username.
pub fn derived_name(
    first: Option<&str>,
    last: Option<&str>,
    display: Option<&str>,
    username: Option<&str>,
) -> Option<String> {
    let full = [first, last].into_iter().flatten().map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>();
    if !full.is_empty() {
        return Some(full.join(" "));
    }
    display.or(username).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_to_e164_or_refused() {
        assert_eq!(normalize_phone("+55 (11) 99999-9999").as_deref(), Some("+5511999999999"));
        assert_eq!(normalize_phone("5511999999999"), None);
        assert_eq!(normalize_phone("+0123456789"), None);
        assert_eq!(normalize_phone("+12"), None);
        assert_eq!(normalize_phone("+1234567890123456"), None);
        assert_eq!(normalize_phone("+1555abc1234"), None);
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(normalize_email(" Jane@Example.COM ").as_deref(), Some("jane@example.com"));
        assert_eq!(normalize_email("jane@example"), None);
        assert_eq!(normalize_email("@example.com"), None);
        assert_eq!(normalize_email("a b@example.com"), None);
        assert_eq!(normalize_email("a@b@example.com"), None);
    }

    #[test]
    fn a_name_is_derived_from_first_and_last_name() {
        assert_eq!(derived_name(Some("Jane"), Some("Doe"), None, None).as_deref(), Some("Jane Doe"));
        assert_eq!(derived_name(None, None, None, Some("jd")).as_deref(), Some("jd"));
    }
}
