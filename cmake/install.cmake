# install.cmake: `cmake --install BUILD [--prefix P]` lays out foreshock as a
# package: the three programs in bin, their man pages in share/man/man1, the
# reference configuration in etc/foreshock (sysconfdir) and the systemd units
# (with the installed paths filled in) in lib/systemd/system.
include(GNUInstallDirs)

install(TARGETS foreshock foreshock-alertmanager foreshock-bench
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/detector/foreshock.1
              ${PROJECT_SOURCE_DIR}/detector/foreshock-alertmanager.1
              ${PROJECT_SOURCE_DIR}/bench/foreshock-bench.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/config/foreshock.conf
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/foreshock)

# The units name the installed paths. GNUInstallDirs' FULL_ variables are
# fixed at configure time; with `cmake --install --prefix P` elsewhere the
# units still name the configured prefix (CMAKE_INSTALL_PREFIX, /usr/local by
# default; configure with -DCMAKE_INSTALL_PREFIX=/usr for /usr/bin/foreshock).
set(FS_INSTALL_FULL_BINDIR "${CMAKE_INSTALL_FULL_BINDIR}")
set(FS_INSTALL_FULL_SYSCONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}")
set(FS_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "Where the systemd units are installed, relative to the prefix")
foreach(unit foreshock.service foreshock-alertmanager.service)
  configure_file(${PROJECT_SOURCE_DIR}/config/${unit} ${PROJECT_BINARY_DIR}/systemd/${unit} @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit} DESTINATION ${FS_SYSTEMD_UNITDIR})
endforeach()
