"""Microsoft's gallery schema test, reproduced from its own logic: the action
`Schema_Discoverability_Test` of AzureAD/SCIMReferenceCode,
`Microsoft.SCIM.LogicAppValidationTemplate/StandardLogicApp/SCIMTests_Workflow.json`
(commit 28e331a26817d2ec6526049793f8413636d5cf6d). Each step below names the action it follows.

The suite reads `/Schemas`, flattens the attributes it lists into the paths a mapping targets,
and reports every target attribute of the provisioning job that is not among them (`id`
excepted). The job's target attributes are `targetDirectoryUserAttributes` and
`targetDirectoryGroupAttributes` of Initialization_Workflow.json
(`Response_Initialization_Data`): the attribute lists of the job's target objects, whose
`name` is the path a mapping writes to, such as `emails[type eq "work"].value`.
"""

from __future__ import annotations

from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def flatten(attributes: list[dict]) -> list[str]:
    """Flatten_User_Attrs_Loop / Flatten_Group_Attrs_Loop: one schema's attributes as paths."""
    names: list[str] = []
    for attr in attributes:
        name = attr.get("name")
        subs: list[dict] = attr.get("subAttributes") or []
        if name in ("manager", "members"):  # Check_*_Attr_Category: by name alone
            names.append(name)
        elif attr.get("type") == "complex" and (attr.get("multiValued") or False) is True:
            # Check_*_Is_Complex_MultiValued
            type_sub = [s for s in subs if s.get("name") == "type"]  # Get_*_Type_SubAttr
            filterable = [s for s in subs  # Get_*_Filterable_SubAttrs
                          if s.get("name") != "type" and s.get("name") != "primary"]
            canonical = (type_sub[0].get("canonicalValues") or []) if type_sub else []
            if type_sub and canonical:  # Check_*_Has_CanonicalValues
                names += [f'{name}[type eq "{value}"].{s.get("name")}'  # Append_*_Bracket_Attr
                          for value in canonical for s in filterable]
            else:  # Get_*_NonPrimary_SubAttrs, Append_*_Primary_Bracket_Attr
                names += [f'{name}[primary eq "True"].{s.get("name")}'
                          for s in subs if s.get("name") != "primary"]
        elif attr.get("type") == "complex":  # Check_*_Is_Complex_SingleValued
            names += [f"{name}.{s.get('name')}" for s in subs  # Get_*_Simple_SubAttrs
                      if s.get("type") != "complex" and s.get("type") != "reference"]
        elif attr.get("type") != "reference":  # Check_*_Not_Reference
            names.append(name)  # Append_*_Simple_Attr
    return names


def lookup_string(names: list[str]) -> str:
    """Compose_*_Lookup_String: toLower(concat('|', join(names, '|'), '|'))."""
    return ("|" + "|".join(names) + "|").lower()


def missing(targets: list[dict], lookup: str) -> list[str]:
    """Filter_Missing_*_Attrs and Select_Missing_*_Attr_Names: every target but `id` whose
    name is not one of the flattened paths (compared lower-cased)."""
    return [t.get("name") for t in targets
            if t.get("name") != "id" and f"|{t.get('name') or ''}|".lower() not in lookup]


def schema_discoverability(status: int, body: Any, user_targets: list[dict],
                           group_targets: list[dict]) -> dict:
    """Compose_Schema_Discoverability_Summary, for a `GET /Schemas` answer (SCIM_Get_Schemas)
    and the job's target attributes (`[{"name": ...}, ...]`)."""
    resources = (body.get("Resources") if isinstance(body, dict) else None) or []
    user = [r for r in resources if r.get("id") == CORE_USER]  # Filter_User_Schema
    group = [r for r in resources if r.get("id") == CORE_GROUP]  # Filter_Group_Schema
    extensions = [r for r in resources  # Filter_All_User_Extension_Schemas
                  if r.get("id") != CORE_USER and r.get("id") != CORE_GROUP]
    user_names = flatten((user[0].get("attributes") if user else None) or [])
    for schema in extensions:  # ForEach_User_Extension_Schema, Append_Extension_Attr
        user_names += [f"{schema.get('id')}:{a.get('name')}"
                       for a in schema.get("attributes") or []]
    group_names = flatten((group[0].get("attributes") if group else None) or [])
    missing_user = missing(user_targets, lookup_string(user_names))
    missing_group = missing(group_targets, lookup_string(group_names))
    passed = status == 200 and bool(resources) and not missing_user and not missing_group
    return {"overallResult": "PASSED" if passed else "FAILED",
            "flattenedUserSchemaAttrs": user_names, "flattenedGroupSchemaAttrs": group_names,
            "missingUserAttrs": missing_user, "missingGroupAttrs": missing_group}
