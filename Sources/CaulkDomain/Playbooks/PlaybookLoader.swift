import CaulkAPI
import Foundation

/// Reads playbook YAML, refusing anything it does not understand with the file, line and field.
public enum PlaybookLoader {
    /// Keys that only mean something in a repair playbook.
    static let repairKeys: Set<String> = ["disruptive", "opt_in", "confirm", "every_node", "audit", "repairs"]
    static let topKeys = repairKeys.union(["name", "kind", "description", "parameters", "steps", "checks"])
    static let parameterKeys: Set<String> = ["default", "description"]
    static let stepKeys: Set<String> = ["name", "scope", "command", "builtin", "timeout", "output", "on", "mutates", "max_output", "stdin"]
    static let checkKeys: Set<String> = ["id", "builtin", "when", "severity", "message", "repair"]
    static let ruleKeys: Set<String> = ["step", "exit", "stdout_matches", "stdout_not_matches"]

    /// Steps whose command caulk builds.

    public static func parse(_ text: String, source: String) throws(DomainError) -> Playbook {
        do throws(DomainError) {
            guard let root = try YAMLValue.parse(text) else { throw YAMLValue.empty.fail("the file is empty") }
            return try parse(root, source: source)
        } catch {
            guard case .invalidInventory(let line, let field, let message) = error else { throw error }
            throw .invalidPlaybook(file: source, line: line, field: field, message: message)
        }
    }

    private static func parse(_ root: YAMLValue, source: String) throws(DomainError) -> Playbook {
        var name: String?
        var kind: Playbook.Kind?
        var description = ""
        var parameters: [Playbook.Parameter] = []
        var steps: [Playbook.Step] = []
        var checks: [Playbook.Check] = []
        var stepsValue: YAMLValue?
        var checksValue: YAMLValue?
        var repairOptions: [(key: String, value: YAMLValue)] = []
        for (key, value) in try root.mapping(allowed: topKeys) {
            switch key {
            case _ where repairKeys.contains(key): repairOptions.append((key, value))
            case "name":
                name = try value.string()
                guard (try? Validate.name(name!, field: "name")) != nil else { throw value.fail("use lowercase letters, digits and -, starting with a letter") }
            case "kind": kind = try choice(value, Playbook.Kind.self)
            case "description": description = try value.string()
            case "parameters":
                for (parameterName, entry) in try value.mapping() {
                    guard parameterName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !CommandTemplate.contextParameters.contains(parameterName) else {
                        throw entry.fail("parameter names use letters, digits and _, and may not be one caulk sets (\(CommandTemplate.contextParameters.sorted().joined(separator: ", ")))")
                    }
                    var parameter = Playbook.Parameter(name: parameterName, defaultValue: "", description: "")
                    for (field, fieldValue) in try entry.mapping(allowed: parameterKeys) {
                        if field == "default" { parameter.defaultValue = try fieldValue.string() } else { parameter.description = try fieldValue.string() }
                    }
                    parameters.append(parameter)
                }
            case "steps": stepsValue = value
            default: checksValue = value
            }
        }
        guard let name else { throw root.fail("'name' is required") }
        guard let kind else { throw root.fail("'kind' is required (\(Playbook.Kind.allCases.map(\.rawValue).joined(separator: " | ")))") }
        let known = CommandTemplate.contextParameters.union(parameters.map(\.name))
        var playbook = Playbook(name: name, kind: kind, description: description, parameters: parameters, steps: [], checks: [], source: source)
        for (key, value) in repairOptions {
            guard kind == .repair else { throw value.fail("'\(key)' applies to repair playbooks only") }
            switch key {
            case "disruptive": playbook.disruptive = try bool(value)
            case "opt_in": playbook.optIn = try bool(value)
            case "confirm": playbook.needsConfirmation = try bool(value)
            case "every_node": playbook.everyNode = try bool(value)
            case "audit": playbook.audit = try value.string()
            default: playbook.repairs = try value.sequence().map { item throws(DomainError) in try item.string() }
            }
        }
        let stepValues = try stepsValue?.sequence() ?? []
        guard !stepValues.isEmpty || !playbook.repairs.isEmpty else { throw (stepsValue ?? root).fail("'steps' is required and may not be empty") }
        var scopes: [String: Playbook.Scope] = [:]
        for value in stepValues {
            let step = try parseStep(value, parameters: known, kind: kind)
            guard scopes.updateValue(step.scope, forKey: step.name) == nil else { throw value.fail("step '\(step.name)' is given twice") }
            steps.append(step)
        }
        if let checksValue, kind == .repair { throw checksValue.fail("checks belong in audit playbooks; a repair's findings come from its audit") }
        var ids: Set<String> = []
        for value in try checksValue?.sequence() ?? [] {
            let check = try parseCheck(value, steps: scopes)
            guard ids.insert(check.id).inserted else { throw value.fail("check '\(check.id)' is given twice") }
            checks.append(check)
        }
        playbook.steps = steps
        playbook.checks = checks
        return playbook
    }

    private static func parseStep(_ value: YAMLValue, parameters: Set<String>, kind: Playbook.Kind) throws(DomainError) -> Playbook.Step {
        var step = Playbook.Step(name: "", scope: .eachNode, command: nil, builtin: nil, timeout: 30, output: .text)
        var scope: Playbook.Scope?
        for (key, field) in try value.mapping(allowed: stepKeys) {
            switch key {
            case "name": step.name = try field.string()
            case "scope": scope = try choice(field, Playbook.Scope.self)
            case "command", "stdin":
                let text = try field.string()
                for placeholder in CommandTemplate.placeholders(in: text) where !parameters.contains(placeholder) {
                    throw field.fail("{{\(placeholder)}} is not a parameter of this playbook; declare it under 'parameters' or use one of \(CommandTemplate.contextParameters.sorted().joined(separator: ", "))")
                }
                if kind == .audit, CommandTemplate.placeholders(in: text).contains(ContextValue.vxlanMTU.rawValue) {
                    throw field.fail("{{vxlan_mtu}} is known only to repairs (from the NIC MTUs the audit before them read); an audit's commands run before any NIC is read")
                }
                if key == "command" {
                    step.command = text
                } else {
                    // An audit's node steps run as one command, so a step cannot have input of its own.
                    guard kind == .repair else { throw field.fail("'stdin' applies to repair playbooks only") }
                    step.stdin = text
                }
            case "builtin":
                let name = try field.string()
                guard let builtin = BuiltinStep(rawValue: name) else {
                    throw field.fail("unknown built-in step '\(name)'; expected one of: \(BuiltinStep.allCases.map(\.rawValue).sorted().joined(separator: ", "))")
                }
                step.builtin = builtin
            case "timeout":
                step.timeout = try field.int()
                guard (1...3600).contains(step.timeout) else { throw field.fail("must be 1–3600 seconds") }
            case "output": step.output = try choice(field, Playbook.Output.self)
            case "max_output":
                guard let bytes = byteCount(try field.string()), (1024...(256 << 20)).contains(bytes) else {
                    throw field.fail("expected a size from 1K to 256M, e.g. 512K or 16M")
                }
                step.maxOutput = bytes
            case "on":
                guard kind == .repair else { throw field.fail("'on' applies to repair playbooks only") }
                step.on = try choice(field, Playbook.Host.self)
            case "mutates":
                guard kind == .repair else { throw field.fail("'mutates' applies to repair playbooks only") }
                step.mutates = try bool(field)
            default: continue
            }
        }
        if kind == .audit { step.mutates = false }
        guard !step.name.isEmpty, step.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw value.fail("every step needs a 'name' of letters, digits, - and _")
        }
        guard let scope else { throw value.fail("step '\(step.name)' needs a 'scope' (\(Playbook.Scope.allCases.map(\.rawValue).joined(separator: " | ")))") }
        step.scope = scope
        guard (step.command == nil) != (step.builtin == nil) else { throw value.fail("step '\(step.name)' needs exactly one of 'command' and 'builtin'") }
        if step.builtin != nil, scope != .eachNode { throw value.fail("built-in step '\(step.name)' runs on each node; set scope: each-node") }
        if step.builtin != nil, kind == .repair { throw value.fail("built-in steps belong in audits; a repair verifies each node with the datapath probe itself") }
        if scope == .afterNodes, kind != .repair { throw value.fail("scope after-nodes applies to repair playbooks only") }
        if step.on == .controlPlane, scope != .eachNode { throw value.fail("'on: control-plane' is for each-node steps; \(scope.rawValue) steps already run there") }
        return step
    }

    /// `steps`: the playbook's step names and their scopes.
    private static func parseCheck(_ value: YAMLValue, steps: [String: Playbook.Scope]) throws(DomainError) -> Playbook.Check {
        var check = Playbook.Check(id: "", builtin: nil, rule: nil, severity: .warning, message: nil, repair: nil)
        for (key, field) in try value.mapping(allowed: checkKeys) {
            switch key {
            case "id": check.id = try field.string()
            case "builtin":
                let name = try field.string()
                guard let builtin = BuiltinCheck(rawValue: name) else {
                    throw field.fail("unknown built-in check '\(name)'; expected one of: \(BuiltinCheck.allCases.map(\.rawValue).sorted().joined(separator: ", "))")
                }
                if let missing = builtin.requiredSteps.first(where: { steps[$0] == nil }) {
                    throw field.fail("built-in check '\(name)' reads step '\(missing)', which this playbook does not have")
                }
                check.builtin = builtin
            case "when": check.rule = try parseRule(field, steps: steps)
            case "severity": check.severity = try choice(field, Severity.self)
            case "message": check.message = try field.string()
            default: check.repair = try field.string()
            }
        }
        guard !check.id.isEmpty, check.id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw value.fail("every check needs an 'id' of letters, digits and -")
        }
        guard (check.builtin == nil) != (check.rule == nil) else { throw value.fail("check '\(check.id)' needs exactly one of 'builtin' and 'when'") }
        if check.rule != nil, check.message == nil { throw value.fail("check '\(check.id)' needs a 'message'") }
        return check
    }

    private static func parseRule(_ value: YAMLValue, steps: [String: Playbook.Scope]) throws(DomainError) -> Playbook.Rule {
        var rule = Playbook.Rule(step: "")
        for (key, field) in try value.mapping(allowed: ruleKeys) {
            switch key {
            case "step":
                rule.step = try field.string()
                guard steps[rule.step] == .eachNode else {
                    throw field.fail("no each-node step named '\(rule.step)' in this playbook")
                }
            case "exit":
                let text = try field.string()
                switch text {
                case "zero": rule.exit = .zero
                case "nonzero": rule.exit = .nonzero
                default:
                    guard let code = Int(text) else { throw field.fail("expected zero, nonzero or an exit status") }
                    rule.exit = .code(code)
                }
            default:
                let pattern = try field.string()
                guard (try? Regex(pattern)) != nil else { throw field.fail("not a valid regular expression") }
                if key == "stdout_matches" { rule.stdoutMatches = pattern } else { rule.stdoutNotMatches = pattern }
            }
        }
        guard !rule.step.isEmpty else { throw value.fail("'when' needs a 'step'") }
        guard rule.exit != nil || rule.stdoutMatches != nil || rule.stdoutNotMatches != nil else {
            throw value.fail("'when' needs at least one of exit, stdout_matches, stdout_not_matches")
        }
        return rule
    }

    /// `16M`, `512K` or a plain number of bytes.
    static func byteCount(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20]
        guard let last = text.last else { return nil }
        let (digits, unit) = units[last].map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard digits.count <= 9, let value = Int(digits) else { return nil }
        return value * unit
    }

    private static func bool(_ value: YAMLValue) throws(DomainError) -> Bool {
        switch try value.string() {
        case "true": return true
        case "false": return false
        default: throw value.fail("expected true or false")
        }
    }

    private static func choice<T: RawRepresentable & CaseIterable>(_ value: YAMLValue, _ type: T.Type) throws(DomainError) -> T where T.RawValue == String {
        let text = try value.string()
        guard let result = T(rawValue: text) else {
            throw value.fail("'\(text)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return result
    }
}

extension Playbook.Rule {
    init(step: String) {
        self.init(step: step, exit: nil, stdoutMatches: nil, stdoutNotMatches: nil)
    }
}

extension YAMLValue {
    static var empty: YAMLValue { YAMLValue(node: .scalar(.init("")), path: "") }
}
