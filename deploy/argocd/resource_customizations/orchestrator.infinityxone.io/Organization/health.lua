-- Argo CD health of an Organization (orchestrator.infinityxone.io), read from its kstatus conditions: Suspended
-- while spec.suspend is set; Progressing until the operator observed the current generation and while Reconciling;
-- Degraded when Stalled (a person must act) or Ready is False, or Degraded is True (a dependency cycle, unreadable
-- repositories); Healthy once Ready is True.
local hs = {}
local function set(status, message)
  hs.status = status
  hs.message = message
  return hs
end
local function told(condition)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.reason .. ": " .. condition.message
  end
  return condition.reason
end
if obj.spec ~= nil and obj.spec.suspend == true then
  return set("Suspended", "Organization is suspended (spec.suspend)")
end
if obj.status == nil or obj.status.observedGeneration == nil then
  return set("Progressing", "Waiting for the operator to report the Organization's status")
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  return set("Progressing", "Waiting for the operator to observe generation " .. obj.metadata.generation)
end
local conditions = {}
for _, condition in ipairs(obj.status.conditions or {}) do
  conditions[condition.type] = condition
end
local function holds(type, status)
  return conditions[type] ~= nil and conditions[type].status == status
end
if holds("Stalled", "True") then
  return set("Degraded", told(conditions["Stalled"]))
end
if holds("Ready", "False") then
  return set("Degraded", told(conditions["Ready"]))
end
if holds("Reconciling", "True") then
  return set("Progressing", told(conditions["Reconciling"]))
end
if holds("Degraded", "True") then
  return set("Degraded", told(conditions["Degraded"]))
end
if holds("Ready", "True") then
  return set("Healthy", told(conditions["Ready"]))
end
if conditions["Ready"] ~= nil then
  return set("Progressing", told(conditions["Ready"]))
end
return set("Progressing", "Waiting for the operator to set the Ready condition")
