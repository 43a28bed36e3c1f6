# The Debian package (issue 20): `bash scripts/package.sh` configures with
# PEERUP_PACKAGE=ON, builds peerup and its generated files, and runs CPack.
#   /usr/bin/peerup (stripped)
#   peerup(1) from the CLI's own --help (help2man, one section per command),
#   peerup-config(5) from docs/config.md (pandoc): neither can drift
#   bash and zsh completion from `peerup completion bash|zsh` (the CLI11 tree)
#   the systemd units and sysusers.d file of packaging/systemd/ (not enabled)
#   docs/*.md in /usr/share/doc/peerup (the units' Documentation= links)
# Depends: from dpkg-shlibdeps on the binary, plus adduser (postinst).
option(PEERUP_PACKAGE "Build the Debian package's files (needs help2man, pandoc)" OFF)
if(NOT PEERUP_PACKAGE)
  return()
endif()

find_program(HELP2MAN help2man REQUIRED)
find_program(PANDOC pandoc REQUIRED)
set(gen ${CMAKE_BINARY_DIR}/package)
file(GLOB units CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/packaging/systemd/*.service)
file(GLOB sysusers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/packaging/systemd/*.sysusers.conf)
file(GLOB docs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
if(NOT units)
  message(WARNING "packaging/systemd/ has no units yet: the package ships none "
                  "(git merge main after the UNITS: commit)")
endif()
set(unit_names "")
foreach(u ${units})
  get_filename_component(n ${u} NAME)
  list(APPEND unit_names ${n})
endforeach()
list(JOIN unit_names " " PEERUP_UNITS)

add_custom_command(
  OUTPUT ${gen}/peerup.1.gz ${gen}/peerup-config.5.gz ${gen}/peerup.bash ${gen}/_peerup
         ${gen}/changelog.Debian.gz
  COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/package-files.sh $<TARGET_FILE:peerup> ${gen}
          ${CMAKE_SOURCE_DIR} ${PROJECT_VERSION}
  DEPENDS peerup ${CMAKE_SOURCE_DIR}/scripts/package-files.sh ${CMAKE_SOURCE_DIR}/docs/config.md
  COMMENT "man pages, completion and changelog for the package")
add_custom_target(peerup_package_files ALL
                  DEPENDS ${gen}/peerup.1.gz ${gen}/peerup-config.5.gz ${gen}/peerup.bash
                          ${gen}/_peerup ${gen}/changelog.Debian.gz)

# Maintainer scripts know the unit names (stop on remove).
foreach(script postinst prerm postrm)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/${script}.in ${gen}/control/${script}
                 @ONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                 GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()

install(TARGETS peerup RUNTIME DESTINATION bin)
install(FILES ${gen}/peerup.1.gz DESTINATION share/man/man1)
install(FILES ${gen}/peerup-config.5.gz DESTINATION share/man/man5)
install(FILES ${gen}/peerup.bash DESTINATION share/bash-completion/completions RENAME peerup)
install(FILES ${gen}/_peerup DESTINATION share/zsh/vendor-completions)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/debian/copyright ${gen}/changelog.Debian.gz ${docs}
        DESTINATION share/doc/peerup)
if(units)
  # Debian 12 keeps units in /lib/systemd/system (usrmerge moves them later).
  install(FILES ${units} DESTINATION /lib/systemd/system)
endif()
foreach(s ${sysusers})
  install(FILES ${s} DESTINATION lib/sysusers.d RENAME peerup.conf)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME peerup)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "peer-up maintainers <maintainers@peerup.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "reach your own services behind CGNAT over libp2p")
set(CPACK_PACKAGE_DESCRIPTION
    "peer-up connects your devices to services at home (ssh, web) through NAT\n"
    "and carrier-grade NAT, over libp2p: a relay when needed, a direct path\n"
    "(hole punching) when possible, and devices paired with a one-time code.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/peer-up/peer-up")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${gen}/control/postinst ${gen}/control/prerm
                                       ${gen}/control/postrm)
set(CPACK_STRIP_FILES ON)
# Only the files above: no CMake, no libraries of dependencies.
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};peerup;ALL;/")
include(CPack)
