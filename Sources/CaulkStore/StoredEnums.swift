import CaulkAPI
import GRDB

// The wire enums are stored as their raw values, the same words the migrations' CHECK constraints
// allow. A value no case matches (a newer schema, or a hand edit) fails the read with an error
// naming the column; it is never read as some default.

extension RunKind: DatabaseValueConvertible {}
extension RunStatus: DatabaseValueConvertible {}
extension RunTrigger: DatabaseValueConvertible {}
extension HostOutcomeKind: DatabaseValueConvertible {}
extension NodeHealth: DatabaseValueConvertible {}
extension Severity: DatabaseValueConvertible {}
extension RepairNodeOutcome: DatabaseValueConvertible {}
extension RepairStepOutcome: DatabaseValueConvertible {}
extension AutoRepairOutcome: DatabaseValueConvertible {}
extension Role: DatabaseValueConvertible {}
extension NodeRole: DatabaseValueConvertible {}
extension Encapsulation: DatabaseValueConvertible {}
extension CalicoNamespace: DatabaseValueConvertible {}
