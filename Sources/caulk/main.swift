import CaulkCLI
import Foundation

exit(await CaulkCommand.run())
