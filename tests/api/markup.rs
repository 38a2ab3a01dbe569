//! Reading the dashboard's HTML in tests: the `data-` attributes of its elements, unescaped.

use std::collections::HashMap;

/// One start tag: its name and attributes.
#[derive(Debug, Clone)]
pub struct Tag {
    pub name: String,
    pub attrs: HashMap<String, String>,
}

impl Tag {
    pub fn get(&self, attr: &str) -> &str {
        self.attrs
            .get(attr)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("<{}> has no {attr}: {:?}", self.name, self.attrs))
    }

    pub fn number(&self, attr: &str) -> f64 {
        self.get(attr)
            .parse()
            .unwrap_or_else(|_| panic!("{attr} is not a number: {:?}", self.attrs))
    }

    /// A number, or `None` for an empty attribute.
    pub fn maybe(&self, attr: &str) -> Option<f64> {
        let text = self.get(attr);
        (!text.is_empty()).then(|| text.parse().unwrap())
    }
}

pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every start tag of `html` that has attribute `attr`, in document order.
pub fn tags_with(html: &str, attr: &str) -> Vec<Tag> {
    html.split('<')
        .skip(1)
        .filter_map(|chunk| {
            let inside = &chunk[..chunk.find('>')?];
            let (name, rest) = inside.split_once(' ')?;
            let attrs = parse_attrs(rest);
            attrs.contains_key(attr).then(|| Tag {
                name: name.to_owned(),
                attrs,
            })
        })
        .collect()
}

/// The HTML from the element whose `id` is `id` to the end of its section (or of its chart).
pub fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no element with id {id}"));
    let rest = &html[start..];
    let end = ["</section>", "</svg>"]
        .iter()
        .filter_map(|close| rest.find(close))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

fn parse_attrs(mut rest: &str) -> HashMap<String, String> {
    let mut attrs = HashMap::new();
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .to_owned();
        let value_start = eq + 2;
        let Some(len) = rest[value_start..].find('"') else {
            break;
        };
        attrs.insert(name, unescape(&rest[value_start..value_start + len]));
        rest = &rest[value_start + len + 1..];
    }
    attrs
}
