//! Entity type names in English sentences: `users` → `user`, `1 invoice`,
//! `3 invoices`. Profiles name types in the plural, as paths do.

/// A plain English singular for entity type names (`categories` → `category`);
/// names it does not recognise stay as they are.
pub fn singular(entity: &str) -> String {
    let e = entity.replace('_', " ");
    if let Some(stem) = e.strip_suffix("ies") {
        format!("{stem}y")
    } else if ["sses", "shes", "ches", "xes", "zes"].iter().any(|s| e.ends_with(s)) {
        e[..e.len() - 2].to_owned()
    } else if e.ends_with('s') && !e.ends_with("ss") && !e.ends_with("us") {
        e[..e.len() - 1].to_owned()
    } else {
        e
    }
}

/// `n` entities of a type: `1 invoice`, `2 invoices`.
pub fn count(n: usize, entity: &str) -> String {
    if n == 1 { format!("1 {}", singular(entity)) } else { format!("{n} {}", entity.replace('_', " ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_name_one_entity_in_the_singular() {
        let cases = [
            ("users", "user"),
            ("categories", "category"),
            ("addresses", "address"),
            ("boxes", "box"),
            ("order_items", "order item"),
            ("status", "status"),
            ("otp", "otp"),
        ];
        for (plural, one) in cases {
            assert_eq!(singular(plural), one);
        }
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(1, "invoices"), "1 invoice");
        assert_eq!(count(3, "order_items"), "3 order items");
    }
}
