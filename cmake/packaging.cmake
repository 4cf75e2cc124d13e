# packaging.cmake - CPack: a Debian package from the install rules.
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release \
#         -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF
#   cmake --build build-deb && (cd build-deb && cpack -G DEB)
#
# or packaging/build-deb.sh, which does that. Included last from the top
# CMakeLists.txt, after every install() rule.

set(CPACK_PACKAGE_NAME hotload)
set(CPACK_PACKAGE_VENDOR "hotload")
set(CPACK_PACKAGE_CONTACT "hotload maintainers <hotload@localhost>" CACHE STRING
	"Maintainer: field of the package")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
	"daemon that keeps DCC Python interpreters warm and runs code in them")
set(CPACK_PACKAGE_DESCRIPTION
	"hotloadd keeps the Python interpreters of DCC applications - Maya's mayapy,\n\
Houdini's hython, Blender in background mode, plain CPython - running as warm\n\
workers and runs the Python code that editors, tools, scripts and agents send\n\
it over a Unix socket or loopback TCP, returning output, errors and tracebacks\n\
in milliseconds instead of after a DCC's start-up. hotloadctl is its\n\
command-line client.\n\
.\n\
The package enables the systemd user units for every user: an artist's own\n\
daemon starts on the first connection. The system units, for shared\n\
machines and farm nodes, run as the hotload user and are not enabled.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "__pycache__")

set(CPACK_DEBIAN_PACKAGE_NAME hotload)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Shared libraries (libuv1, libjansson4, libyaml-0-2, libsystemd0, libc6)
# are found by dpkg-shlibdeps (package dpkg-dev) and added to these:
# python3 runs the built-in python hook, adduser makes the hotload user in
# postinst, procps has the /bin/kill of the units' ExecReload=.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3, adduser, procps")
# python3-debugpy: the debugger of op debug; python3-ipykernel: the Jupyter
# kernel (hotload_kernel) runs on it. The rest does not need them.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-debugpy, python3-ipykernel")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "blender, bash-completion, jupyter-notebook | python3-jupyter-console")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
	${HOTLOAD_DEB_DIR}/conffiles
	${HOTLOAD_DEB_DIR}/postinst
	${HOTLOAD_DEB_DIR}/prerm
	${HOTLOAD_DEB_DIR}/postrm)
# Maintainer scripts 0755, conffiles 0644, whatever the source tree says.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

if(APPLE)
	set(CPACK_GENERATOR TGZ)
else()
	set(CPACK_GENERATOR DEB)
endif()
include(CPack)
