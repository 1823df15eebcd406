//! GraphQL execution (spec: "Executing Selection Sets"): fields are collected through inline fragments, named
//! fragments and `@skip`/`@include`, merged by response key (aliases), resolved by [`super::resolve`], and a field
//! error nulls the nearest nullable parent, as GitHub answers.

use std::collections::HashSet;

use apollo_compiler::ast::Type;
use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema};
use serde_json::{json, Map, Value};

use super::cost::Cost;
use super::resolve::{resolve, Context, FieldError, Obj, Resolved};
use super::{error_json, location_of, value_json};
use crate::rate_limit::Budget;
use crate::routes::permissions::Permissions;
use crate::state::SimState;

/// What a query answered.
pub(super) struct Outcome {
    /// `data`.
    pub data: Value,
    /// `errors`, in GitHub's shape.
    pub errors: Vec<Value>,
    /// Fields the query asked for that the simulator does not serve.
    pub violations: Vec<String>,
}

/// A non-null field could not be given a value: its parent becomes null.
struct Propagate;

struct Executor<'s> {
    schema: &'s Valid<Schema>,
    document: &'s Valid<ExecutableDocument>,
    context: Context<'s>,
    errors: Vec<Value>,
    violations: Vec<String>,
}

/// Runs `operation` over the state; `budget` is the caller's `graphql` budget after this query's charge.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    schema: &Valid<Schema>,
    document: &Valid<ExecutableDocument>,
    operation: &Operation,
    variables: &Map<String, Value>,
    state: &SimState,
    permissions: Option<Permissions>,
    base_url: &str,
    budget: &Budget,
    cost: &Cost,
) -> Outcome {
    let suites = Default::default();
    let context = Context { state, permissions, base_url, variables, budget: *budget, cost: *cost, suites };
    let mut executor = Executor { schema, document, context, errors: Vec::new(), violations: Vec::new() };
    let data = if operation.operation_type.is_query() {
        match executor.selection_sets(&Obj::Query, &[&operation.selection_set], &mut Vec::new()) {
            Ok(data) => Value::Object(data),
            Err(Propagate) => Value::Null,
        }
    } else {
        let message = format!("github-sim serves queries only, not a {}", operation.operation_type);
        executor.violations.push(message.clone());
        executor.errors.push(error_json(&message, None, None, &[]));
        Value::Null
    };
    Outcome { data, errors: executor.errors, violations: executor.violations }
}

impl<'s> Executor<'s> {
    /// Executes the merged selection sets on one object.
    fn selection_sets(
        &mut self,
        obj: &Obj<'s>,
        sets: &[&'s SelectionSet],
        path: &mut Vec<Value>,
    ) -> Result<Map<String, Value>, Propagate> {
        let mut grouped: Vec<(&'s Name, Vec<&'s Node<Field>>)> = Vec::new();
        let mut visited = HashSet::new();
        for set in sets {
            self.collect(obj.type_name(), set, &mut grouped, &mut visited);
        }
        let mut result = Map::new();
        for (key, fields) in grouped {
            let field = fields[0];
            if field.name == "__typename" {
                result.insert(key.to_string(), json!(obj.type_name()));
                continue;
            }
            path.push(json!(key.as_str()));
            let resolved = resolve(&self.context, obj, field);
            let value = self.complete(field.ty(), resolved, &fields, path);
            path.pop();
            result.insert(key.to_string(), value?);
        }
        Ok(result)
    }

    /// Collects the fields of `set` that apply to an object of `type_name`, grouped by response key.
    fn collect(
        &self,
        type_name: &str,
        set: &'s SelectionSet,
        grouped: &mut Vec<(&'s Name, Vec<&'s Node<Field>>)>,
        visited: &mut HashSet<&'s Name>,
    ) {
        for selection in &set.selections {
            let directives = match selection {
                Selection::Field(field) => &field.directives,
                Selection::InlineFragment(inline) => &inline.directives,
                Selection::FragmentSpread(spread) => &spread.directives,
            };
            if !self.included(directives) {
                continue;
            }
            match selection {
                Selection::Field(field) => {
                    let key = field.response_key();
                    match grouped.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, fields)) => fields.push(field),
                        None => grouped.push((key, vec![field])),
                    }
                }
                Selection::InlineFragment(inline) => {
                    let applies = inline.type_condition.as_ref().is_none_or(|c| self.applies(c, type_name));
                    if applies {
                        self.collect(type_name, &inline.selection_set, grouped, visited);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !visited.insert(&spread.fragment_name) {
                        continue;
                    }
                    let Some(fragment) = self.document.fragments.get(&spread.fragment_name) else { continue };
                    if self.applies(fragment.type_condition(), type_name) {
                        self.collect(type_name, &fragment.selection_set, grouped, visited);
                    }
                }
            }
        }
    }

    /// Whether a fragment on `condition` applies to an object of `type_name`.
    fn applies(&self, condition: &Name, type_name: &str) -> bool {
        condition == type_name || self.schema.is_subtype(condition, type_name)
    }

    /// `@skip(if:)` and `@include(if:)`.
    fn included(&self, directives: &apollo_compiler::executable::DirectiveList) -> bool {
        let flag = |name: &str| {
            directives
                .get(name)
                .and_then(|d| d.specified_argument_by_name("if"))
                .map(|v| value_json(v, self.context.variables).as_bool() == Some(true))
        };
        flag("skip") != Some(true) && flag("include") != Some(false)
    }

    /// Shapes a resolved value by the field's type; a field error is recorded and nulls the field, or its parent
    /// when the field cannot be null.
    fn complete(
        &mut self,
        ty: &Type,
        resolved: Result<Resolved<'s>, FieldError>,
        fields: &[&'s Node<Field>],
        path: &mut Vec<Value>,
    ) -> Result<Value, Propagate> {
        let null = |ty: &Type| if ty.is_non_null() { Err(Propagate) } else { Ok(Value::Null) };
        match resolved {
            Err(error) => {
                if error.unserved {
                    self.violations.push(format!("{} (at {})", error.message, Value::Array(path.clone())));
                }
                let location = location_of(fields[0], self.document);
                self.errors.push(error_json(&error.message, error.kind, location, path));
                null(ty)
            }
            Ok(Resolved::Null) => {
                if ty.is_non_null() {
                    let message = format!("Cannot return null for non-nullable field {}", fields[0].name);
                    self.errors.push(error_json(&message, None, location_of(fields[0], self.document), path));
                }
                null(ty)
            }
            Ok(Resolved::Leaf(value)) => Ok(value),
            Ok(Resolved::Object(obj)) => {
                let sets: Vec<&'s SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
                match self.selection_sets(&obj, &sets, path) {
                    Ok(object) => Ok(Value::Object(object)),
                    Err(Propagate) => null(ty),
                }
            }
            Ok(Resolved::List(items)) => {
                let item_type = ty.item_type();
                let mut values = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    path.push(json!(index));
                    let value = self.complete(item_type, item, fields, path);
                    path.pop();
                    match value {
                        Ok(value) => values.push(value),
                        Err(Propagate) => return null(ty),
                    }
                }
                Ok(Value::Array(values))
            }
        }
    }
}
